import { createRoot } from 'react-dom/client';
import { initAuth } from './api/auth.js';
import { App } from './app.js';
import { live } from './live/socket.js';
import './styles.css';

initAuth();
live.start();
createRoot(document.getElementById('root')!).render(<App />);
