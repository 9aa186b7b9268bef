/** The /v2 suite on the embedded backends: filesystem storage, PGlite, memory cache. */
import { registryHttpSuite } from './registry-suite.ts';
import { makeEmbeddedRegistry } from './embedded-backends.ts';

describe('registry /v2 HTTP: embedded backends (filesystem, PGlite, memory)', function () {
  registryHttpSuite(makeEmbeddedRegistry);
});
