//! nl6-fleet (work in progress).
