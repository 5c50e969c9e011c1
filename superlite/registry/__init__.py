"""The registry: what is stored, in which versions, and which version a name means now.

``registry`` keeps component records and their artifacts (versioning, removal, garbage
collection, the change feed); ``artifacts`` moves artifact bytes between serializers and the
artifact store, verifying each digest; ``lifecycle`` sets and moves aliases and canaries;
``resolver`` turns a selector (uuid, version or alias)
into the version that answers a call.
"""

from superlite.registry.artifacts import ArtifactPipeline
from superlite.registry.lifecycle import Lifecycle
from superlite.registry.registry import Registry
from superlite.registry.resolver import Resolver

__all__ = ["ArtifactPipeline", "Lifecycle", "Registry", "Resolver"]
