mod engine;
mod matching;
mod modifiers;
mod regression;
mod seen;
