import { openPGlite, openPostgres } from './harness.ts';
import { v2RoleMatrixSuite } from './v2-role-matrix-suite.ts';

v2RoleMatrixSuite('PGlite', openPGlite);
v2RoleMatrixSuite('PostgreSQL', openPostgres);
