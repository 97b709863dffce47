// The canary command's usage: main.ts lists it without loading the command itself.
export const CANARY_HELP = `  imds-analyzer canary start (--unit NAME | --cgroup PATH | --container ID) [--for DURATION]
  imds-analyzer canary stop [--unit NAME | --cgroup PATH | --container ID]
  imds-analyzer canary status
                       [--config FILE]
      Root only. Inside the target's cgroup subtree, IMDS answers every request without a
      token 401, as under HttpTokens=required (docs/canary.md); token requests pass untouched.
      Ends after DURATION (default 1h, at most 7d), on stop, or when the service stops.
      Exits 0 done, 1 refused (the line says why), 3 the service is not running, 69 this
      kernel cannot run a canary.
`;
