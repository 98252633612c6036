//! See DESIGN.md section 4.
