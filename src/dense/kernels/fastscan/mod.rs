//! 4-bit fast-scan and 8-bit ADC kernels (being written).
