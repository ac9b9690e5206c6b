//! What `log()` allocates on the caller's thread (the JavaScript thread, in the
//! addon): every allocation there is time the chat server waits for, and memory
//! that thread faults in (docs/performance.md, "log()'s tail").

use crate::core::delivery::Logger;
use crate::core::testing::*;

/// The bench's event, as JSON.stringify writes it.
const EVENT: &str = r#"{"category":"Chat Session","action":"closed","roomId":"be61e543dfe6:wqbFXoeX2kdSZhSyi","tabId":"tab-5f1a2c","dialogflowAgentId":"b5983b72-cac6-4f85-b9d0-be61e543dfe6","eventType":"customerAction","properties":{"close_method":"chat window"},"timestamp":"2022-09-26T17:50:47.225Z"}"#;

/// Allocations per `log_json` call on this thread, over `n` calls.
fn allocations_per_event(logger: &Logger, n: usize) -> f64 {
    let before = allocations();
    for _ in 0..n {
        logger.log_json(EVENT).expect("valid event");
    }
    (allocations() - before) as f64 / n as f64
}

#[test]
fn log_allocates_its_field_list_and_at_most_one_text_buffer_per_event() {
    let fake = FakePublisher::default();
    let logger = Logger::start(test_config(false), fake.clone());
    // The first events' texts are new buffers; the loop hands them back as it takes
    // the events, and tops the pool up in a burst.
    let cold = allocations_per_event(&logger, 500);
    flush_wait(&logger);
    let warm = allocations_per_event(&logger, 500);
    eprintln!("allocations per event on the caller's thread: {cold} cold, {warm} warm");
    // Per event: the list of `properties` read from the text (freed before log()
    // returns), the event channel's block for each 31 events, and a new text buffer
    // only when the pool is empty, written without growing: a text that outgrew its
    // buffer, or shrank it to fit, would count again.
    let bound = 2.0 + 1.0 / 31.0 + 0.001;
    assert!(cold <= bound, "{cold} allocations per event while cold");
    assert!(warm <= bound, "{warm} allocations per event once warm");
    close_wait(&logger, None);
    assert_eq!(
        fake.requests()
            .iter()
            .map(|r| r.bodies.len())
            .sum::<usize>(),
        1000
    );
}
