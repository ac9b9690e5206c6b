//! The metrics as data, for `registerPrometheusMetrics`: the same families
//! `logger.metrics()` renders as text, so that the two exporters cannot differ.

use std::collections::HashMap;

use napi_derive::napi;

use crate::core::telemetry::{definitions, Family};

/// One metric family: its full name, type, help, label names and samples.
#[napi(object)]
pub struct MetricFamily {
    pub name: String,
    #[napi(js_name = "type", ts_type = "'counter' | 'gauge'")]
    pub kind: String,
    pub help: String,
    pub label_names: Vec<String>,
    pub samples: Vec<MetricSample>,
}

/// One sample of a family: its labels by name, and its value.
#[napi(object)]
pub struct MetricSample {
    pub labels: HashMap<String, String>,
    pub value: f64,
}

impl From<Family> for MetricFamily {
    fn from(f: Family) -> Self {
        let label_names: Vec<String> = f.labels.iter().map(|l| (*l).to_owned()).collect();
        MetricFamily {
            samples: f
                .samples
                .into_iter()
                .map(|s| MetricSample {
                    labels: label_names.iter().cloned().zip(s.labels).collect(),
                    value: s.value,
                })
                .collect(),
            name: f.name,
            kind: f.kind.as_str().to_owned(),
            help: f.help.to_owned(),
            label_names,
        }
    }
}

/// Every metric family a logger publishes, without samples: what a registry
/// registers before there is a logger to read (`registerPrometheusMetrics`).
#[napi]
pub fn metric_definitions() -> Vec<MetricFamily> {
    definitions().into_iter().map(Into::into).collect()
}
