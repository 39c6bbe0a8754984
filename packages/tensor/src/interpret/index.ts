export { interpret, type InterpretOptions } from "./interpret";
