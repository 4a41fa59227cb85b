"""Claim schema (spec), transforms, business rules and the fraud scorer artifact."""
