// Where the orval fetch client sends its requests: orval.config.mjs has it
// read server.baseUrl at each call (output.baseUrl.runtime).
export const server = { baseUrl: "" };
