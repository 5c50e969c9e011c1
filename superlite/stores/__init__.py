"""Where components live: metadata and artifact store interfaces, the scheme registry, backends."""
