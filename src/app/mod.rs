//! The dashboard state machine: Model, Msg, update(model, msg) -> effects. No I/O.
