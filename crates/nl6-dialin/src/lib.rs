//! nl6-dialin (work in progress).
