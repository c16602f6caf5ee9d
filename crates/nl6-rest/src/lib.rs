//! nl6-rest (work in progress).
