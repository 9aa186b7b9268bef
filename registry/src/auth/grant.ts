/**
 * Requested scopes → granted scopes for a principal, looking projects and memberships up in
 * the ProjectDirectory. The decision itself is `grantedActions` (pure); this only gathers
 * the project context it needs.
 */
import type { Principal, ProjectDirectory } from './identity.ts';
import { grantedActions, type ProjectContext } from './permissions.ts';
import { projectOf, type Scope } from './scope.ts';

/** Where a repository's project is missing, `grant` reports it so callers can say so. */
export interface ScopeGrant {
  requested: Scope;
  granted: Scope;
  /** For repository scopes: the project named by the first path component, and whether it exists. */
  project?: { name: string | undefined; exists: boolean };
}

export async function grantScopes(
  principal: Principal,
  requested: readonly Scope[],
  projects: ProjectDirectory,
  now: Date = new Date(),
): Promise<ScopeGrant[]> {
  const contexts = new Map<string, ProjectContext | undefined>();
  const grants: ScopeGrant[] = [];
  for (const scope of requested) {
    let context: ProjectContext | undefined;
    let project: ScopeGrant['project'];
    if (scope.type === 'repository') {
      const name = projectOf(scope.name);
      if (name !== undefined) {
        if (!contexts.has(name)) contexts.set(name, await projectContext(principal, name, projects));
        context = contexts.get(name);
      }
      project = { name, exists: context !== undefined };
    }
    const granted: Scope = { ...scope, actions: grantedActions(principal, context, scope, now) };
    const grant: ScopeGrant = { requested: scope, granted };
    if (project) grant.project = project;
    grants.push(grant);
  }
  return grants;
}

export async function projectContext(
  principal: Principal,
  name: string,
  projects: ProjectDirectory,
): Promise<ProjectContext | undefined> {
  const project = await projects.findProject(name);
  if (project === undefined) return undefined;
  const context: ProjectContext = { name: project.name, public: project.public };
  if (principal.kind === 'user' && !principal.sysadmin) {
    const role = await projects.memberRole(project.name, principal.id);
    if (role !== undefined) context.role = role;
  }
  return context;
}
