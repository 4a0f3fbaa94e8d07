//! The JNI wrapper: the `native` methods of `io.hamon.Native` (see `java/`). Like
//! [`crate::ffi`], it only translates: Java values in, the safe modules' results out, and
//! every failure as the exception that `io.hamon`'s Javadoc promises. Each `Java_*` function
//! runs inside [`entry::entry`], so neither an error nor a panic can bring the JVM down.

mod attach;
mod check;
mod convert;
mod entry;
mod heartbeat;
mod library;
mod log;
mod probe;
mod server;
