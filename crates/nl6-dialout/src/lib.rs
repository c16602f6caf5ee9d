//! nl6-dialout (work in progress).
