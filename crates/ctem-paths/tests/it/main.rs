mod graphs;
