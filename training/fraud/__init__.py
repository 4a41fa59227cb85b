"""Claims fraud pipeline: split, fit, calibrate, band, evaluate, log, register."""
