//! What `log()` allocates on the caller's thread (the JavaScript thread, in the
//! addon): every allocation there is time the chat server waits for, and memory
//! that thread faults in (docs/performance.md, "log()'s tail").

use crate::core::delivery::Logger;
use crate::core::testing::*;

/// The bench's event, as JSON.stringify writes it.
const EVENT: &str = r#"{"category":"Chat Session","action":"closed","roomId":"be61e543dfe6:wqbFXoeX2kdSZhSyi","tabId":"tab-5f1a2c","dialogflowAgentId":"b5983b72-cac6-4f85-b9d0-be61e543dfe6","eventType":"customerAction","properties":{"close_method":"chat window"},"timestamp":"2022-09-26T17:50:47.225Z"}"#;

/// Calls of `log_json` per measurement.
const CALLS: u64 = 500;

/// What `CALLS` calls may allocate on this thread, at most: per event the list of
/// `properties` read from the text (freed before log() returns) and a new text
/// buffer when the pool is empty, written without growing (a text that outgrew its
/// buffer, or shrank it to fit, would count again); the event channel's block for
/// each 31 events; and a few once per logger, on first use (a fresh clone's run
/// counted 2 × 500 + 17 + 1).
const MAX_ALLOCATIONS: u64 = 2 * CALLS + CALLS.div_ceil(31) + ONCE_PER_LOGGER;

/// Allocations a logger's first calls make once, the channel's first block among
/// them.
const ONCE_PER_LOGGER: u64 = 4;

/// Allocations on this thread over `CALLS` calls of `log_json`.
fn allocations_of_calls(logger: &Logger) -> u64 {
    let before = allocations();
    for _ in 0..CALLS {
        logger.log_json(EVENT).expect("valid event");
    }
    allocations() - before
}

#[test]
fn log_allocates_its_field_list_and_at_most_one_text_buffer_per_event() {
    let fake = FakePublisher::default();
    let logger = Logger::start(test_config(false), fake.clone());
    // The first events' texts are new buffers, unless the loop has handed some back
    // (as it takes the events) or topped the pool up in a burst already.
    let cold = allocations_of_calls(&logger);
    flush_wait(&logger);
    let warm = allocations_of_calls(&logger);
    eprintln!("allocations on the caller's thread over {CALLS} calls: {cold} cold, {warm} warm");
    assert!(cold <= MAX_ALLOCATIONS, "{cold} allocations while cold");
    assert!(warm <= MAX_ALLOCATIONS, "{warm} allocations once warm");
    close_wait(&logger, None);
    assert_eq!(
        fake.requests()
            .iter()
            .map(|r| r.bodies.len())
            .sum::<usize>(),
        2 * CALLS as usize
    );
}
