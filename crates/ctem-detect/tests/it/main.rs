mod engine;
mod evtx;
mod matching;
mod modifiers;
mod regression;
mod seen;
