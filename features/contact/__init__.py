"""Contact-text models: complaint risk, complaint topic, intent routing."""
