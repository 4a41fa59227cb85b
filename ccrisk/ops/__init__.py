"""Operations on trained models: drift and hit-rate monitoring, champion/challenger comparison,
promotion and rollback. Not training: these read the registry, the prediction log and the
investigators' outcomes."""
