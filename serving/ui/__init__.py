"""The screens people use (`/agent`, `/claims`): static pages on the service's own origin that
call the same /v1 endpoints as any client, with the signed-in person's API key."""
