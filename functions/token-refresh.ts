/** Placeholder until the token lifecycle lands (issue 3/11). */
export interface TokenRefreshDeps {
  log: (line: string) => void;
}

export function createHandler(deps: TokenRefreshDeps) {
  return async (): Promise<{ refreshed: number }> => {
    deps.log('token refresh: nothing to do yet');
    return { refreshed: 0 };
  };
}

export const handler = createHandler({ log: (line) => console.log(line) });
