//! Test launcher.
