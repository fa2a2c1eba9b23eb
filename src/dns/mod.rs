//! The DNS side: answers computed from a zone view (shared by the gateway and the simulator).

pub mod answer;
