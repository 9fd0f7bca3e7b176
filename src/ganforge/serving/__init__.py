"""Using trained models: batch generation, latent tools, the HTTP API, the model registry."""
