/**
 * The access matrix of issue 4, written out by hand (never computed from the code under
 * test). EXPECTED is shared by the pure grantedActions test and the in-process /v2
 * AccessController test; V2_HTTP_EXPECTED (below) by the /v2 matrix over real HTTP.
 * Rows: who. Columns: pull / push / delete on a repository of the project, and the catalog.
 * The project robot holds pull+push on its project; the system robot pull on every
 * project ("*") and catalog read.
 */
export type MatrixPrincipal =
  | 'anonymous'
  | 'projectAdmin'
  | 'maintainer'
  | 'developer'
  | 'guest'
  | 'limitedGuest'
  | 'non-member'
  | 'project robot'
  | 'system robot'
  | 'system admin';

// The expected matrix, written out by hand (never computed from the code under test):
// granted actions for pull / push / delete on repository team/app, and registry:catalog:*.
export const EXPECTED: Record<'private' | 'public', Record<MatrixPrincipal, { pull: boolean; push: boolean; delete: boolean; catalog: boolean }>> = {
  private: {
    anonymous: { pull: false, push: false, delete: false, catalog: false },
    projectAdmin: { pull: true, push: true, delete: true, catalog: false },
    maintainer: { pull: true, push: true, delete: true, catalog: false },
    developer: { pull: true, push: true, delete: false, catalog: false },
    guest: { pull: true, push: false, delete: false, catalog: false },
    limitedGuest: { pull: true, push: false, delete: false, catalog: false },
    'non-member': { pull: false, push: false, delete: false, catalog: false },
    'project robot': { pull: true, push: true, delete: false, catalog: false },
    'system robot': { pull: true, push: false, delete: false, catalog: true },
    'system admin': { pull: true, push: true, delete: true, catalog: true },
  },
  public: {
    anonymous: { pull: true, push: false, delete: false, catalog: false },
    projectAdmin: { pull: true, push: true, delete: true, catalog: false },
    maintainer: { pull: true, push: true, delete: true, catalog: false },
    developer: { pull: true, push: true, delete: false, catalog: false },
    guest: { pull: true, push: false, delete: false, catalog: false },
    limitedGuest: { pull: true, push: false, delete: false, catalog: false },
    'non-member': { pull: true, push: false, delete: false, catalog: false },
    'project robot': { pull: true, push: true, delete: false, catalog: false },
    'system robot': { pull: true, push: false, delete: false, catalog: true },
    'system admin': { pull: true, push: true, delete: true, catalog: true },
  },
};

/**
 * The /v2 matrix over real HTTP (registry/test/api/v2-role-matrix-suite.ts), for the cast of
 * registry/test/api/fixture.ts: users with each role in both `priv` (private) and `pub`
 * (public); a non-member; the project robot `robot$priv+ci` (repository pull+push on `priv`
 * only, so a stranger to `pub`); the system robot `robot$ops` (pull on `*`, catalog read);
 * a system administrator. Besides them, `vault` is private with only the Developer in it (as
 * Guest), `open` is public.
 *
 * Each cell is the status that every request of the action answers:
 *  - pull: manifest GET + blob GET (200); tags: GET tags/list (200); catalog: GET _catalog (200)
 *  - push: blob upload (POST ?digest=, twice) + manifest PUT (201)
 *  - delete: manifest DELETE by digest (202)
 *  - mount from vault / from open: POST ?mount=&from=vault/base (or open/base); 201 mounted,
 *    202 an upload session instead (the caller may push here but not pull the source)
 * 401 is UNAUTHORIZED with the Bearer challenge (`error="insufficient_scope"` when a token was
 * presented), 403 is DENIED. `token`: GET /service/token (Basic, or anonymous) for the
 * operation's scopes, then Bearer; `basic`: Basic straight on /v2 (anonymous: no header).
 */
export type V2Action = 'pull' | 'push' | 'delete' | 'mount from vault' | 'mount from open' | 'catalog' | 'tags';

// Columns: anonymous nonMember limitedGuest guest developer maintainer projectAdmin projectRobot systemRobot admin
export const V2_HTTP_EXPECTED: Record<'priv' | 'pub', Record<V2Action, { token: string; basic: string }>> = {
  priv: {
    pull: {
      token: '401 401 200 200 200 200 200 200 200 200',
      basic: '401 403 200 200 200 200 200 200 200 200',
    },
    push: {
      token: '401 401 401 401 201 201 201 201 401 201',
      basic: '401 403 403 403 201 201 201 201 403 201',
    },
    delete: {
      token: '401 401 401 401 401 202 202 401 401 202',
      basic: '401 403 403 403 403 202 202 403 403 202',
    },
    'mount from vault': {
      token: '401 401 401 401 201 202 202 202 401 201',
      basic: '401 403 403 403 201 202 202 202 403 201',
    },
    'mount from open': {
      token: '401 401 401 401 201 201 201 201 401 201',
      basic: '401 403 403 403 201 201 201 201 403 201',
    },
    catalog: {
      token: '401 401 401 401 401 401 401 401 200 200',
      basic: '401 403 403 403 403 403 403 403 200 200',
    },
    tags: {
      token: '401 401 200 200 200 200 200 200 200 200',
      basic: '401 403 200 200 200 200 200 200 200 200',
    },
  },
  pub: {
    pull: {
      token: '200 200 200 200 200 200 200 200 200 200',
      basic: '200 200 200 200 200 200 200 200 200 200',
    },
    push: {
      token: '401 401 401 401 201 201 201 401 401 201',
      basic: '401 403 403 403 201 201 201 403 403 201',
    },
    delete: {
      token: '401 401 401 401 401 202 202 401 401 202',
      basic: '401 403 403 403 403 202 202 403 403 202',
    },
    'mount from vault': {
      token: '401 401 401 401 201 202 202 401 401 201',
      basic: '401 403 403 403 201 202 202 403 403 201',
    },
    'mount from open': {
      token: '401 401 401 401 201 201 201 401 401 201',
      basic: '401 403 403 403 201 201 201 403 403 201',
    },
    catalog: {
      token: '401 401 401 401 401 401 401 401 200 200',
      basic: '401 403 403 403 403 403 403 403 200 200',
    },
    tags: {
      token: '200 200 200 200 200 200 200 200 200 200',
      basic: '200 200 200 200 200 200 200 200 200 200',
    },
  },
};
