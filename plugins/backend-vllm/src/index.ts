// Placeholder until the plugin is written.
export const backend = undefined as never;
