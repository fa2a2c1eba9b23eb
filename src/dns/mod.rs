//! The DNS side: answers computed from a zone view (shared by the gateway and the simulator).

pub mod answer;
pub mod replay;
pub mod tsig;
pub mod update;
pub mod listener;
pub mod reply;
pub mod gateway;
