/*!
 * Clarion in-app web SDK as an ES module:
 *
 *   import { create } from "https://clarion.example.com/sdk/clarion-inapp.esm.js";
 *
 * The SDK itself is clarion-inapp.js (also usable as a classic <script>, which
 * defines window.ClarionInApp); this module loads it and re-exports its API.
 */
import "./clarion-inapp.js";

const ClarionInApp = globalThis.ClarionInApp;

export const { version, create, Client, ClarionError, appendCopy, isBlocked, safeLinkUrl } =
  ClarionInApp;
export default ClarionInApp;
