/** Injection tokens of the shared providers (interfaces have no runtime class to inject by). */
export const APP_CONFIG = 'APP_CONFIG';
export const DATABASE = 'DATABASE';
export const REDIS = 'REDIS';
export const METRICS = 'METRICS';
