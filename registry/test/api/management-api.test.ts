import { openPGlite, openPostgres } from './harness.ts';
import { managementApiSuite } from './management-api-suite.ts';

managementApiSuite('PGlite', openPGlite);
managementApiSuite('PostgreSQL', openPostgres);
