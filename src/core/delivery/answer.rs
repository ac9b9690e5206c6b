//! What one answered PublishBatch means for the entries that were sent: a pure sort
//! by the fault kind the transport gave each failed entry, which never sees an AWS
//! error code.

use super::pause::DestinationFault;
use super::publisher::{BatchResponse, EntryFailure, FaultKind};

/// What one answered PublishBatch means for the entries that were sent.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct SortedAnswer {
    /// Accepted by SNS.
    pub delivered: Vec<usize>,
    /// To send again: failed transiently, or missing from the answer.
    pub retry: Vec<usize>,
    /// Refused for good for their own sake, with SNS's word on each.
    pub refused: Vec<(usize, EntryFailure)>,
    /// Refused because the destination cannot take anything: to hold.
    pub unavailable: Vec<usize>,
    /// The first such refusal.
    pub refusal: Option<DestinationFault>,
    /// SNS asked to slow down for at least one entry.
    pub throttled: bool,
    /// The first reason an entry is sent again, for reports.
    pub first_error: String,
}

/// Sorts the entries `sent` (indices into `ids`, the event ids) by SNS's answer, in
/// their order, using the fault kind the transport gave each failed entry.
pub(super) fn sort_answer(
    sent: &[usize],
    ids: &[String],
    response: &BatchResponse,
) -> SortedAnswer {
    let mut sorted = SortedAnswer::default();
    let note = |sorted: &mut SortedAnswer, why: String| {
        if sorted.first_error.is_empty() {
            sorted.first_error = why;
        }
    };
    for &i in sent {
        let id = &ids[i];
        if let Some(f) = response.failed.iter().find(|f| &f.id == id) {
            match f.kind {
                FaultKind::Permanent => sorted.refused.push((i, f.clone())),
                FaultKind::DestinationUnavailable => {
                    sorted.unavailable.push(i);
                    sorted.refusal.get_or_insert_with(|| DestinationFault {
                        code: f.code.clone(),
                        message: f.message.clone(),
                    });
                }
                kind => {
                    sorted.throttled |= kind == FaultKind::Throttled;
                    note(&mut sorted, format!("{}: {}", f.code, f.message));
                    sorted.retry.push(i);
                }
            }
        } else if response.successful.iter().any(|s| s == id) {
            sorted.delivered.push(i);
        } else {
            note(&mut sorted, "SNS answered without this entry".to_owned());
            sorted.retry.push(i);
        }
    }
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(id: &str, kind: FaultKind, code: &str) -> EntryFailure {
        EntryFailure {
            id: id.into(),
            kind,
            code: code.into(),
            message: "said SNS".into(),
            sender_fault: kind == FaultKind::Permanent,
        }
    }

    #[test]
    fn an_answer_sorts_entries_into_delivered_retry_and_failed() {
        let ids: Vec<String> = ["a", "b", "c", "d", "e", "f"].map(String::from).into();
        let response = BatchResponse {
            successful: vec!["a".into(), "e".into()],
            failed: vec![
                failure("b", FaultKind::Permanent, "InvalidParameter"),
                failure("c", FaultKind::Transient, "InternalError"),
                failure("d", FaultKind::Throttled, "Throttling"),
            ],
        };
        // "f" is missing from the answer; "x" was not sent this time.
        let sorted = sort_answer(&[0, 1, 2, 3, 4, 5], &ids, &response);
        assert_eq!(sorted.delivered, vec![0, 4]);
        assert_eq!(sorted.retry, vec![2, 3, 5]);
        assert!(sorted.unavailable.is_empty() && sorted.refusal.is_none());
        assert_eq!(
            sorted.refused,
            vec![(1, failure("b", FaultKind::Permanent, "InvalidParameter"))]
        );
        assert!(sorted.throttled);
        assert_eq!(sorted.first_error, "InternalError: said SNS");
    }

    #[test]
    fn an_entry_refused_for_its_destination_is_held_not_failed() {
        let ids: Vec<String> = ["a", "b", "c"].map(String::from).into();
        let response = BatchResponse {
            successful: vec!["a".into()],
            failed: vec![
                failure("b", FaultKind::DestinationUnavailable, "KMSDisabled"),
                failure("c", FaultKind::DestinationUnavailable, "KMSInvalidState"),
            ],
        };
        let sorted = sort_answer(&[0, 1, 2], &ids, &response);
        assert_eq!(sorted.delivered, vec![0]);
        assert_eq!(sorted.unavailable, vec![1, 2]);
        assert!(sorted.refused.is_empty() && sorted.retry.is_empty());
        assert_eq!(
            sorted.refusal,
            Some(DestinationFault {
                code: "KMSDisabled".into(),
                message: "said SNS".into()
            })
        );
    }

    #[test]
    fn only_the_entries_sent_are_sorted() {
        let ids: Vec<String> = ["a", "b", "c"].map(String::from).into();
        let response = BatchResponse {
            successful: vec!["c".into()],
            failed: vec![],
        };
        let sorted = sort_answer(&[2], &ids, &response);
        assert_eq!(sorted.delivered, vec![2]);
        assert!(sorted.retry.is_empty() && sorted.refused.is_empty() && !sorted.throttled);
        let none = sort_answer(&[0], &ids, &response);
        assert_eq!(none.retry, vec![0]);
        assert_eq!(none.first_error, "SNS answered without this entry");
    }
}
