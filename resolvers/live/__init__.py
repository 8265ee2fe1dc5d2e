"""Live events: REST Hooks registered upstream, fanned out to GraphQL subscribers."""
