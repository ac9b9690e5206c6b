//! Which records a command works on (`--id`, `--code`): every record, or those that
//! match each criterion given.

use uuid::Uuid;

use super::record::DeadLetter;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only these events; all when empty.
    pub ids: Vec<Uuid>,
    /// Only records refused with one of these AWS codes; all when empty.
    pub codes: Vec<String>,
}

impl Selection {
    pub fn matches(&self, letter: &DeadLetter) -> bool {
        (self.ids.is_empty() || self.ids.contains(&letter.id))
            && (self.codes.is_empty() || self.codes.contains(&letter.code))
    }

    /// No criterion: every record.
    pub fn is_everything(&self) -> bool {
        self.ids.is_empty() && self.codes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::tests::letter;
    use super::*;

    #[test]
    fn each_criterion_given_must_match() {
        let (a, mut b) = (letter(1), letter(2));
        b.code = "KMSDisabled".into();
        assert!(Selection::default().matches(&a) && Selection::default().is_everything());
        let by_code = Selection {
            codes: vec!["KMSDisabled".into()],
            ..Selection::default()
        };
        assert!(!by_code.matches(&a) && by_code.matches(&b));
        let both = Selection {
            ids: vec![a.id],
            codes: vec!["KMSDisabled".into()],
        };
        assert!(!both.matches(&a) && !both.matches(&b));
    }
}
