// Placeholder: the dataset builder is being written.
export {};
