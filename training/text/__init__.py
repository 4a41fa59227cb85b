"""Contact-text model training (`ccrisk train text --task NAME`)."""
