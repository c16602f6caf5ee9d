//! nl6-resolver (work in progress).
