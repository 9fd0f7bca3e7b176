"""The stage layer: one typer command per DVC stage. It reads params.yaml, resolves typed
configs, calls the library, and writes outputs atomically. No training maths here."""
