"""Shared contract between training and serving: schemas, transforms, settings, rules."""
