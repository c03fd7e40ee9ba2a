/** Volcengine RTC OpenAPI defaults (mainland China). */
export const DEFAULT_ENDPOINT = 'https://rtc.volcengineapi.com';
export const DEFAULT_REGION = 'cn-north-1';
export const DEFAULT_SERVICE = 'rtc';
