/** The version of mcu (@mcu/core) that computed a result; reported in every result's `meta.version`. */
export const VERSION = '0.1.0';
