//! The DNS side: answers computed from a zone view (shared by the gateway and the simulator).

pub mod answer;
pub mod gateway;
pub mod listener;
pub mod replay;
pub mod reply;
pub mod tsig;
pub mod update;
