//! nl6-netns (work in progress).
