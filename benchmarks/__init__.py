"""`make bench`: quality on the real data and serving speed, side by side, written as JSON."""
