//! The client side of the monitor protocol.
