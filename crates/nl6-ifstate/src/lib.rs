//! nl6-ifstate (work in progress).
