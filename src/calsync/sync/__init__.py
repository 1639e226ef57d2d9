"""The service layer: synchronize, apply, push, reprocess. Orchestration and transactions only."""
